"""The local server's two API dialects: `documented` (complete) and `current` (PostHog today, strict)."""
