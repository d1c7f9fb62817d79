"""The carrier registry: canonical names, aliases, NAIC company codes, subordinates and addresses.

Every form picks a carrier from it; a typed name (an API call, a feed) finds its carrier case- and
space-insensitively, by name or alias; an unknown carrier is registered explicitly, never by accident."""
