"""Reference data: agencies, companies, rules, fees, termination reasons, settings."""
