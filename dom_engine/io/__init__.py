"""Files in and out: order files, network / rate / policy tables, stock files, plan rendering, the demo."""
