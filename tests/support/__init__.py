"""Test helpers shared across test packages (the echoing proxy)."""
