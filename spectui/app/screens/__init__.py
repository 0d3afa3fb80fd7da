"""The app's screens: the decode screen, and modal help, prompt and settings screens."""
