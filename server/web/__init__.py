"""The HTTP side: security headers, REST routes and the pages."""
