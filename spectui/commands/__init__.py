"""The `spectui` commands, one module each: SUMMARY, add_arguments(parser), main(args)."""
