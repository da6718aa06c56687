-- depends: observations, places, displacement_daily
-- For each place, metric, unit and period that two or more sources reported as a flow or a cumulative
-- total, what each source said, the spread between them (their latest figures), and what this report's chosen daily series
-- adds up to over the same days. Figures are listed side by side, never added together. A period only
-- one source reported is no comparison and is left out (with event data that is nearly every row).
CREATE OR REPLACE TABLE source_comparison AS
WITH shared_dates AS (
    -- Two sources reporting one period share at least its metric, population and dates. Those few
    -- combinations, found first on the plain columns of observations (place names are not needed for
    -- this), keep the millions of single-source event rows out of the place lookup, grouping and
    -- joins below.
    SELECT metric, population, period_start, period_end
    FROM observations
    WHERE metric IN ('displaced', 'returned', 'killed') AND basis IN ('flow', 'cumulative')
    GROUP BY ALL
    HAVING count(DISTINCT source_id) > 1
),
reported AS (
    SELECT area AS place, metric, population, unit_people AS unit, period_start, period_end, source_id, source_org,
        role, qualifier, value_best * unit_factor AS value_best, value_low * unit_factor AS value_low,
        value_high * unit_factor AS value_high, published_on, obs_id
    FROM places AS p
    WHERE metric IN ('displaced', 'returned', 'killed') AND basis IN ('flow', 'cumulative')
        AND EXISTS (  -- as a filter (not a join) it is applied before the place lookup in the view
            SELECT 1 FROM shared_dates AS s
            WHERE s.metric = p.metric AND s.population = p.population
                AND s.period_start = p.period_start AND s.period_end = p.period_end
        )
),
latest AS (
    -- each source's own last word on the period: a source that revised its figure disagrees with nobody
    -- by having done so (100,000 then 130,000, against another's 130,000, is no spread of 30,000)
    SELECT * FROM reported
    QUALIFY row_number() OVER (PARTITION BY place, metric, population, unit, period_start, period_end, source_id
                               ORDER BY published_on DESC NULLS LAST, obs_id) = 1
),
periods AS (
    SELECT place, metric, population, unit, period_start, period_end,
        count(DISTINCT source_id) AS n_sources,
        max(value_best) - min(value_best) AS spread
    FROM latest
    GROUP BY ALL
    HAVING count(DISTINCT source_id) > 1
),
chosen_total AS (
    SELECT p.place, p.metric, p.population, p.unit, p.period_start, p.period_end,
        sum(d.people_best ORDER BY d.date) AS chosen_best, count(d.date) AS chosen_days  -- one fixed order for the float sum
    FROM periods AS p
    JOIN displacement_daily AS d
        ON d.place = p.place AND d.metric = p.metric AND d.population = p.population AND d.unit = p.unit
        AND d.series_role = 'chosen' AND d.date BETWEEN p.period_start AND p.period_end
    GROUP BY ALL
)
SELECT r.place, r.metric, r.population, r.unit, r.period_start, r.period_end, r.source_id, r.source_org, r.role,
    r.qualifier, r.value_best, r.value_low, r.value_high, r.published_on, r.obs_id,
    p.n_sources, p.spread, c.chosen_best, c.chosen_days
FROM reported AS r
JOIN periods AS p USING (place, metric, population, unit, period_start, period_end)
LEFT JOIN chosen_total AS c USING (place, metric, population, unit, period_start, period_end)
ORDER BY r.place, r.metric, r.period_start, r.period_end, r.value_best DESC, r.source_id
