-- depends: displacement_flows
-- One row per date, place and series: people per day, a flow spread evenly over its days. A parent
-- interval with nested reported flows spreads only its remainder over the days the nested flows leave
-- free. For each date, place, metric, population and unit one series is `chosen`: recommended first
-- (triangulation only for a place no recommended series covers), then the shortest (most specific)
-- period, then the latest published. Nothing is summed across series.
CREATE OR REPLACE TABLE displacement_daily AS
WITH nested AS (
    SELECT
        parent_flow_id,
        sum(value_best) AS best,
        CASE WHEN bool_and(value_low IS NOT NULL) THEN sum(value_low) END AS low,
        CASE WHEN bool_and(value_high IS NOT NULL) THEN sum(value_high) END AS high,
        sum(days) AS days
    FROM displacement_flows
    WHERE kind = 'nested'
    GROUP BY parent_flow_id
),
rates AS (
    SELECT
        f.*,
        f.days - COALESCE(n.days, 0) AS spread_days,
        (f.value_best - COALESCE(n.best, 0)) / nullif(f.days - COALESCE(n.days, 0), 0) AS rate_best,
        CASE WHEN n.parent_flow_id IS NULL THEN f.value_low ELSE f.value_low - n.high END
            / nullif(f.days - COALESCE(n.days, 0), 0) AS rate_low,
        CASE WHEN n.parent_flow_id IS NULL THEN f.value_high ELSE f.value_high - n.low END
            / nullif(f.days - COALESCE(n.days, 0), 0) AS rate_high
    FROM displacement_flows AS f
    LEFT JOIN nested AS n ON n.parent_flow_id = f.flow_id
),
days AS (
    SELECT r.*, unnest(generate_series(r.period_start, r.period_end, INTERVAL 1 DAY))::DATE AS date
    FROM rates AS r
),
kept AS (
    SELECT d.*
    FROM days AS d
    WHERE NOT EXISTS (
        SELECT 1 FROM displacement_flows AS c
        WHERE c.kind = 'nested' AND c.parent_flow_id = d.flow_id AND d.date BETWEEN c.period_start AND c.period_end
    )
),
eligible AS (
    -- Only recommended series are chosen; a place with no recommended series at all falls back on its
    -- triangulation figures (IDMC's rule), so a revision or another count never fills a gap.
    SELECT *,
        bool_or(role = 'recommended') OVER (PARTITION BY area, metric, population, unit) AS place_has_recommended
    FROM kept
),
ranked AS (
    SELECT
        *,
        CASE WHEN role = 'recommended' OR NOT place_has_recommended THEN row_number() OVER (
            PARTITION BY date, area, metric, population, unit, (role = 'recommended' OR NOT place_has_recommended)
            -- flow_id last: two flows of one series can report the same days, published the same day
            ORDER BY days ASC, published_on DESC NULLS LAST, series, flow_id
        ) END AS choice_rank
    FROM eligible
)
SELECT
    date, country_iso3, admin1_name, area AS place, area_level, metric, population, unit,
    series, source_id, source_org, role, flow_id, kind, qualifier,
    CASE WHEN choice_rank = 1 THEN 'chosen' ELSE 'other' END AS series_role,
    rate_best AS people_best,
    rate_low AS people_low,
    rate_high AS people_high,
    period_start AS flow_start, period_end AS flow_end, obs_ids
FROM ranked
ORDER BY place, metric, population, unit, date, series_role, series
