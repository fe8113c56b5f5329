"""Plugin hooks, the plugin manager and the builtin plugins."""
