"""The app on a speculating server's observed requests: their table, and one request."""
