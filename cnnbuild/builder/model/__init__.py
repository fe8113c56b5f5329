"""The model: a spec's layers built by the registry's factories, compiled, summarised, drawn, loaded."""
