// replaced by the CLI
