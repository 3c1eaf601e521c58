"""React to endpoint executions in PostHog: the sensor, its cursor, and the watch of Dagster's own runs."""
