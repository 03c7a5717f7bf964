"""`python -m kiosk` runs the same command line as the `kiosk` script."""

from kiosk.launch import main

if __name__ == "__main__":
    main()
