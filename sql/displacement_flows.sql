-- depends: places
-- Flows per period per series. A series is one source's reporting of one metric, place, unit and
-- population; a cumulative series also keeps its start date. Cumulative series become flows by
-- differencing consecutive points; reported flows are kept as they are (a figure loaded twice is one
-- flow; of two different figures for one period, only the latest published is nested). A reported flow that lies inside a longer interval of the same reporting series
-- (differenced, or another reported flow) is marked `nested` and points to the tightest such interval,
-- which then keeps only the remainder (so both published totals still hold); a running total's point
-- that a reported flow of the same series straddles does not split the total (`straddled`).
CREATE OR REPLACE TABLE displacement_flows AS
WITH base AS (
    SELECT
        obs_id, source_id, source_org, role, published_on, metric, basis, population,
        unit_people AS unit, area, area_level, country_iso3, admin1_name, qualifier,
        value_low * unit_factor AS value_low,
        value_best * unit_factor AS value_best,
        value_high * unit_factor AS value_high,
        period_start, period_end,
        source_id || ' | ' || metric || ' | ' || population || ' | ' || unit_people || ' | ' || area AS reporting_series
    FROM (
        -- metric = one value is a filter the scan applies itself, fetching the other columns only for
        -- the rows it keeps; an IN list is not, and every column of millions of event rows would be read
        SELECT * FROM places WHERE metric = 'displaced'
        UNION ALL
        SELECT * FROM places WHERE metric = 'returned'
    )
    WHERE basis IN ('flow', 'cumulative')
),
restarts AS (
    -- A new cumulative series starts where the stated start date moves by more than 7 days; a source
    -- restating its start by a few days (OCHA's "since 29 April" then "since 1 May") stays one series.
    SELECT *,
        CASE WHEN abs(datediff('day', lag(period_start) OVER w, period_start)) <= 7 THEN 0 ELSE 1 END AS restart
    FROM base
    WHERE basis = 'cumulative'
    WINDOW w AS (PARTITION BY reporting_series, role ORDER BY period_end, published_on, obs_id)
),
runs AS (
    SELECT *,
        sum(restart) OVER (PARTITION BY reporting_series, role ORDER BY period_end, published_on, obs_id) AS run_no
    FROM restarts
),
run_spans AS (
    SELECT reporting_series, role, run_no, min(period_start) AS run_start, min(period_end) AS first_end,
        max(period_end) AS run_end
    FROM runs
    GROUP BY ALL
),
straddled AS (
    -- a point of a running total that falls inside a reported flow of the same reporting series (a week
    -- across two of its intervals): the flow is the finer figure there, so the point does not split the
    -- running total, whose intervals on either side become one that holds the flow (nested below). The
    -- run's first and last points always stay, so the running total's own span and sum still hold.
    SELECT DISTINCT r.obs_id
    FROM runs AS r
    JOIN run_spans AS s USING (reporting_series, role, run_no)
    JOIN base AS f
        ON f.basis = 'flow' AND f.reporting_series = r.reporting_series AND f.role = r.role
        AND f.period_start <= r.period_end AND r.period_end < f.period_end
        AND f.period_start >= s.run_start AND f.period_end <= s.run_end
    WHERE r.period_end > s.first_end AND r.period_end < s.run_end
),
cumulative AS (
    SELECT
        *,
        reporting_series || ' | since ' || strftime(first_value(period_start) OVER w, '%Y-%m-%d') AS series,
        lag(value_best) OVER w AS prev_best,
        lag(value_low) OVER w AS prev_low,
        lag(value_high) OVER w AS prev_high,
        lag(period_end) OVER w AS prev_end,
        lag(obs_id) OVER w AS prev_obs_id
    FROM runs
    WHERE obs_id NOT IN (SELECT obs_id FROM straddled)
    WINDOW w AS (PARTITION BY reporting_series, role, run_no ORDER BY period_end, published_on, obs_id)
),
pieces AS (
    SELECT
        series, reporting_series, role, source_id, source_org, metric, population, unit, area, area_level,
        country_iso3, admin1_name, published_on, qualifier,
        CASE WHEN prev_end IS NULL THEN period_start ELSE prev_end + INTERVAL 1 DAY END::DATE AS period_start,
        period_end,
        CASE WHEN prev_end IS NULL THEN 'first_point' ELSE 'difference' END AS kind,
        value_best - COALESCE(prev_best, 0) AS value_best,
        -- interval arithmetic: the least the series can have grown is this point's low minus the last point's high
        CASE WHEN prev_end IS NULL THEN value_low ELSE value_low - prev_high END AS value_low,
        CASE WHEN prev_end IS NULL THEN value_high ELSE value_high - prev_low END AS value_high,
        CASE WHEN prev_obs_id IS NULL THEN [obs_id] ELSE [prev_obs_id, obs_id] END AS obs_ids
    FROM cumulative
    WHERE prev_end IS NULL OR period_end > prev_end
    UNION ALL
    SELECT
        reporting_series || ' | flows' AS series, reporting_series, role, source_id, source_org, metric, population,
        unit, area, area_level, country_iso3, admin1_name, published_on, qualifier,
        period_start, period_end, 'reported_flow', value_best, value_low, value_high, [obs_id]
    FROM base
    WHERE basis = 'flow'
    -- the same figure loaded twice (a report and a copy of it: one reporting series, period and value) is
    -- one flow, the latest published; two would both be taken from a longer interval
    QUALIFY row_number() OVER (PARTITION BY reporting_series, role, period_start, period_end, value_best, value_low,
                                            value_high
                               ORDER BY published_on DESC NULLS LAST, obs_id) = 1
),
numbered AS (
    SELECT row_number() OVER (ORDER BY series, period_start, period_end, kind, obs_ids) AS flow_id, *
    FROM pieces
),
nesting AS (
    -- the tightest longer interval of the same reporting series that contains a reported flow: a
    -- differenced one, or another reported flow (a week inside the same source's month), which may itself
    -- lie in a differenced one (among equally long ones, the first by flow_id: arg_min alone would keep
    -- whichever came first)
    SELECT child.flow_id AS child_id,
        arg_min(parent.flow_id, (parent.period_end - parent.period_start, parent.flow_id)) AS parent_id
    FROM numbered AS child
    JOIN numbered AS parent
        ON parent.reporting_series = child.reporting_series
        AND parent.role = child.role
        AND parent.kind IN ('first_point', 'difference', 'reported_flow')
        AND child.kind = 'reported_flow'
        AND child.period_start >= parent.period_start
        AND child.period_end <= parent.period_end
        AND (child.period_end - child.period_start) < (parent.period_end - parent.period_start)
    GROUP BY child.flow_id
),
nested_once AS (
    -- of two figures a series gives for the same period (a restatement), only the latest published is taken
    -- from the interval around it; the other stays a flow of its own, compared with it day by day
    SELECT x.*
    FROM nesting AS x
    JOIN numbered AS c ON c.flow_id = x.child_id
    QUALIFY row_number() OVER (PARTITION BY x.parent_id, c.period_start, c.period_end
                               ORDER BY c.published_on DESC NULLS LAST, c.flow_id) = 1
)
SELECT
    n.flow_id,
    -- a nested flow belongs to the series at the top of its chain (two levels: a week in a month in a
    -- differenced interval)
    coalesce(gp.series, p.series, n.series) AS series,
    n.reporting_series, n.role, n.source_id, n.source_org, n.metric, n.population, n.unit, n.area, n.area_level,
    n.country_iso3, n.admin1_name, n.published_on, n.qualifier,
    n.period_start, n.period_end,
    (n.period_end - n.period_start) + 1 AS days,
    CASE WHEN p.flow_id IS NULL THEN n.kind ELSE 'nested' END AS kind,
    p.flow_id AS parent_flow_id,
    n.value_best, n.value_low, n.value_high,
    n.obs_ids
FROM numbered AS n
LEFT JOIN nested_once AS x ON x.child_id = n.flow_id
LEFT JOIN numbered AS p ON p.flow_id = x.parent_id
LEFT JOIN nested_once AS y ON y.child_id = p.flow_id
LEFT JOIN numbered AS gp ON gp.flow_id = y.parent_id
ORDER BY series, period_start, flow_id
