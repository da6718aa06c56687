-- depends: places
-- End-of-year stocks of refugees and asylum seekers by country of origin and country of asylum (UNHCR
-- population statistics, or HDX HAPI's copy of them). Where several sources give the same year, origin
-- and asylum country, one is used (recommended first, then the latest published): never their sum.
CREATE OR REPLACE TABLE refugees_by_asylum AS
WITH stocks AS (
    SELECT
        year(period_end) AS year, origin_iso3, country_iso3 AS asylum_iso3, place AS asylum_name, metric,
        source_id, source_org, role, published_on, value_best, obs_id
    FROM places
    WHERE metric IN ('refugees', 'asylum_seekers') AND basis = 'stock' AND unit = 'people'
        AND population = 'all' AND origin_iso3 IS NOT NULL
    -- a source's stock at the end of its year: of a mid-year and an end-of-year stock, the later (both were
    -- summed: 3,600,000 and 3,570,000 gave 7,170,000); stocks of one date (refugees and people in a
    -- refugee-like situation, say) are parts of it and are added below
    -- (one publication's: a later revision of the same date replaces it)
    QUALIFY rank() OVER (PARTITION BY year(period_end), origin_iso3, country_iso3, metric, source_id
                         ORDER BY period_end DESC, published_on DESC NULLS LAST) = 1
),
per_source AS (
    SELECT year, origin_iso3, asylum_iso3, metric, source_id,
        any_value(asylum_name ORDER BY asylum_name) AS asylum_name, any_value(source_org ORDER BY source_org) AS source_org,
        bool_or(role = 'recommended') AS recommended, max(published_on) AS published_on,
        sum(value_best) AS people, list(obs_id ORDER BY obs_id) AS obs_ids
    FROM stocks
    GROUP BY ALL
),
chosen AS (
    SELECT * FROM per_source
    QUALIFY row_number() OVER (PARTITION BY year, origin_iso3, asylum_iso3, metric
                               ORDER BY recommended DESC, published_on DESC NULLS LAST, source_id) = 1
)
SELECT
    year, origin_iso3, asylum_iso3, any_value(asylum_name ORDER BY asylum_name) AS asylum_name,
    sum(people) FILTER (WHERE metric = 'refugees') AS refugees,
    sum(people) FILTER (WHERE metric = 'asylum_seekers') AS asylum_seekers,
    string_agg(DISTINCT source_org, '; ' ORDER BY source_org) AS source_org,
    flatten(list(obs_ids ORDER BY metric)) AS obs_ids
FROM chosen
GROUP BY year, origin_iso3, asylum_iso3
ORDER BY year, origin_iso3, refugees DESC NULLS LAST, asylum_iso3
