"""The `judgerl` command line: one module per command, the parser and `main()` in main.py."""
