"""Staff accounts: password hashing, tokens, sign-in throttling and console sign-in."""
