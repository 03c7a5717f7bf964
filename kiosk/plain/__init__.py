"""Plain mode: the kiosk as plain lines and prompts (screen readers, braille displays, serial
consoles). `session.run_plain_session` is its entry; `terminal.LineTerminal` its I/O."""
