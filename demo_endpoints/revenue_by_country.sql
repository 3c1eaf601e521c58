-- description: Purchases and revenue (USD) per country for customers on one plan (starter, pro, enterprise).
-- variables:
--   plan: {type: String, default: pro}
-- cache_age_seconds: 21600
-- tags: [finance]

SELECT properties.$geoip_country_code AS country,
       count() AS purchases,
       round(sum(toFloat(properties.revenue)), 2) AS revenue
FROM events
WHERE event = 'purchase' AND properties.plan = {variables.plan}
GROUP BY country
ORDER BY revenue DESC
