-- description: Event volume and unique persons, for events seen at least min_count times; honours filters_override.
-- variables:
--   min_count: {type: Number, default: 100}
-- expect: {columns: [event, events, persons], min_rows: 1}

SELECT event, count() AS events, uniq(person_id) AS persons
FROM events
WHERE {filters}
GROUP BY event
HAVING events >= {variables.min_count}
ORDER BY events DESC
