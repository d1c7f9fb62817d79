"""Pure appointment rules: no I/O, plain data in, plain data out."""
