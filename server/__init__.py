"""Haven server: the aiohttp application, signalling, accounts, the event store and the relay."""
