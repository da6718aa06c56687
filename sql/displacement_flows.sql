-- depends: places
-- Flows per period per series. A series is one source's reporting of one metric, place, unit and
-- population; a cumulative series also keeps its start date. Cumulative series become flows by
-- differencing consecutive points; reported flows are kept as they are (a figure loaded twice is one
-- flow; of two different figures for one period, only the latest published is nested). A reported flow
-- that lies inside a longer interval of the same reporting series (differenced, or another reported
-- flow) is marked `nested` and points to the tightest such interval,
-- which then keeps only the remainder (so both published totals still hold); a running total's point
-- that a reported flow of the same series straddles does not split the total (`straddled`). A reported flow
-- inside such an interval that is not taken from it, because it overlaps (or restates) one that is, is
-- `overlapping`: kept and compared, but never chosen for a day (displacement_daily), since the interval's
-- remainder and the flow taken from it already account for its days.
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
start_breaks AS (
    -- A cumulative series is one source's running total from one start date. Start dates 7 days or less
    -- after the one before them are one start (OCHA's "since 29 April" then "since 1 May"; a chain of such
    -- restatements stays one); a start further on begins another series. Starts are grouped as dates, not in the order the reports came: a source reporting
    -- two running totals in turn ("since 1 December", "since 1 January", "since 1 December" again) keeps two
    -- series, each differenced on its own (in report order, each report began a series anew).
    SELECT reporting_series, role, period_start,
        CASE WHEN datediff('day', lag(period_start) OVER (PARTITION BY reporting_series, role ORDER BY period_start),
                           period_start) <= 7 THEN 0 ELSE 1 END AS restart
    FROM (SELECT DISTINCT reporting_series, role, period_start FROM base WHERE basis = 'cumulative')
),
start_runs AS (
    SELECT *, sum(restart) OVER (PARTITION BY reporting_series, role ORDER BY period_start) AS run_no
    FROM start_breaks
),
runs AS (
    SELECT b.*, s.run_no
    FROM base AS b
    JOIN start_runs AS s USING (reporting_series, role, period_start)
    WHERE b.basis = 'cumulative'
),
run_spans AS (
    SELECT reporting_series, role, run_no, min(period_start) AS run_start, max(period_end) AS run_end
    FROM runs
    GROUP BY ALL
),
straddled AS (
    -- a point of a running total that falls inside a reported flow of the same reporting series (a week
    -- across two of its intervals): the flow is the finer figure there, so the point does not split the
    -- running total, whose intervals on either side become one that holds the flow (nested below). A flow
    -- across the first point merges the first interval with the next; the last point always stays, and
    -- only a flow within the running total's span counts, so its span and sum still hold.
    SELECT DISTINCT r.obs_id
    FROM runs AS r
    JOIN run_spans AS s USING (reporting_series, role, run_no)
    JOIN base AS f
        ON f.basis = 'flow' AND f.reporting_series = r.reporting_series AND f.role = r.role
        AND f.period_start <= r.period_end AND r.period_end < f.period_end
        AND f.period_start >= s.run_start AND f.period_end <= s.run_end
    WHERE r.period_end < s.run_end
),
latest_points AS (
    -- a running total restated for the same day (a correction, or a copy) is one point, the latest
    -- published: both points in the differencing made the interval before the restatement end on the first
    -- figure and the one after it start from the second, so the series lost or gained their difference
    SELECT * FROM runs
    WHERE obs_id NOT IN (SELECT obs_id FROM straddled)
    QUALIFY row_number() OVER (PARTITION BY reporting_series, role, run_no, period_end
                               ORDER BY published_on DESC NULLS LAST, obs_id) = 1
),
cumulative AS (
    SELECT
        *,
        reporting_series || ' | since ' || strftime(first_value(period_start) OVER w, '%Y-%m-%d') AS series,
        lag(value_best) OVER w AS prev_best,
        lag(value_low) OVER w AS prev_low,
        lag(value_high) OVER w AS prev_high,
        lag(period_end) OVER w AS prev_end,
        lag(obs_id) OVER w AS prev_obs_id,
        lag(qualifier) OVER w AS prev_qualifier
    FROM latest_points
    WINDOW w AS (PARTITION BY reporting_series, role, run_no ORDER BY period_end, published_on, obs_id)
),
pieces AS (
    SELECT
        series, reporting_series, role, source_id, source_org, metric, population, unit, area, area_level,
        country_iso3, admin1_name, published_on,
        -- a difference is as qualified as its two points allow: "more than 400,000" less an exact 200,000 is more
        -- than 200,000; an exact figure less "at least" one is at most the difference; two bounds the same way
        -- ("more than" less "more than") bound nothing, and the difference is only approximate
        CASE
            WHEN prev_end IS NULL OR prev_qualifier = 'exact' THEN qualifier
            -- a lower bound less an upper bound (or an exact figure) is a lower bound, strict if either is
            WHEN qualifier IN ('exact', 'at_least', 'more_than') AND prev_qualifier IN ('up_to', 'less_than') THEN
                CASE WHEN qualifier = 'more_than' OR prev_qualifier = 'less_than' THEN 'more_than' ELSE 'at_least' END
            -- an upper bound (or an exact figure) less a lower bound is an upper bound
            WHEN qualifier IN ('exact', 'up_to', 'less_than') AND prev_qualifier IN ('at_least', 'more_than') THEN
                CASE WHEN qualifier = 'less_than' OR prev_qualifier = 'more_than' THEN 'less_than' ELSE 'up_to' END
            ELSE 'approximately'
        END AS qualifier,
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
    -- lie in another; among equally long ones the latest published, then the first by flow_id
    SELECT child.flow_id AS child_id, parent.flow_id AS parent_id,
        child.period_start, child.period_end, child.published_on
    FROM numbered AS child
    JOIN numbered AS parent
        ON parent.reporting_series = child.reporting_series
        AND parent.role = child.role
        AND parent.kind IN ('first_point', 'difference', 'reported_flow')
        AND child.kind = 'reported_flow'
        AND child.period_start >= parent.period_start
        AND child.period_end <= parent.period_end
        AND (child.period_end - child.period_start) < (parent.period_end - parent.period_start)
    QUALIFY row_number() OVER (PARTITION BY child.flow_id
                               ORDER BY parent.period_end - parent.period_start, parent.published_on DESC NULLS LAST,
                                        parent.flow_id) = 1
),
ranked AS (
    -- the children of one interval, the latest published first: of two figures for the same period (a
    -- restatement) only the first is taken from the interval, and a child that overlaps one ranked before
    -- it is not taken either (the interval's other days could not be told); such a flow stays a flow of its
    -- own, compared with the others day by day
    SELECT *, row_number() OVER (PARTITION BY parent_id ORDER BY published_on DESC NULLS LAST, child_id) AS rank_in_parent
    FROM nesting
),
nested_once AS (
    SELECT x.child_id, x.parent_id
    FROM ranked AS x
    WHERE NOT EXISTS (
        SELECT 1 FROM ranked AS o
        WHERE o.parent_id = x.parent_id AND o.rank_in_parent < x.rank_in_parent
            AND o.period_start <= x.period_end AND x.period_start <= o.period_end
    )
),
covered AS (
    -- an interval whose every day its nested flows take, while they do not add up to it (a month of 120,000
    -- given as halves of 50,000 and 60,000): its remainder has no day left to be spread over, and would be
    -- lost. Its flows are then not nested in it. At the top of its chain they are chosen as the finer figures,
    -- and the interval stays beside them, compared, with its own total. Inside a longer interval (the month in
    -- a quarter) the interval keeps its place there with its own total, so that the longer one's still holds,
    -- and its flows are only compared.
    SELECT x.parent_id
    FROM nested_once AS x
    JOIN numbered AS c ON c.flow_id = x.child_id
    JOIN numbered AS p ON p.flow_id = x.parent_id
    GROUP BY x.parent_id, p.period_start, p.period_end, p.value_best
    HAVING sum(c.period_end - c.period_start + 1) >= (p.period_end - p.period_start) + 1
        AND abs(any_value(p.value_best) - sum(c.value_best)) > 1e-6 * greatest(1, abs(any_value(p.value_best)))
),
covered_inner AS (
    SELECT parent_id FROM covered WHERE parent_id IN (SELECT child_id FROM nested_once)
),
ancestors AS (
    -- every flow's intervals as first nested, from its own up to the top (a day in a week in a month)
    WITH RECURSIVE a(child_id, anc_id, depth) AS (
        SELECT child_id, parent_id, 1 FROM nested_once
        UNION ALL
        SELECT a.child_id, x.parent_id, a.depth + 1
        FROM a JOIN nested_once AS x ON x.child_id = a.anc_id
        WHERE a.depth < 100
    )
    SELECT * FROM a
),
nested_kept AS (
    SELECT child_id, parent_id FROM nested_once WHERE parent_id NOT IN (SELECT parent_id FROM covered)
),
overlap AS (
    -- a flow inside an interval that overlaps (or restates) one taken from it
    SELECT child_id AS flow_id FROM nesting WHERE child_id NOT IN (SELECT child_id FROM nested_once)
),
set_aside AS (
    -- flows compared but never chosen for a day (displacement_daily), kind `overlapping`: one inside an
    -- interval that overlaps (or restates) one taken from it, and the flows of a covered interval that keeps
    -- its place in a longer one
    SELECT flow_id FROM overlap
    UNION
    SELECT child_id FROM nested_once WHERE parent_id IN (SELECT parent_id FROM covered_inner)
),
compared AS (
    -- never chosen: a flow set aside, and any flow inside one (its days are accounted for around it)
    SELECT flow_id FROM set_aside
    UNION
    SELECT child_id FROM ancestors WHERE anc_id IN (SELECT flow_id FROM set_aside)
),
chain AS (
    -- each nested flow's top: its farthest interval up the kept chain (a day in a week in a month in an
    -- interval), which stops below the first covered interval
    SELECT a.child_id AS flow_id, arg_max(a.anc_id, a.depth) AS top_id
    FROM ancestors AS a
    LEFT JOIN (
        SELECT child_id, min(depth) AS depth FROM ancestors WHERE anc_id IN (SELECT parent_id FROM covered)
        GROUP BY child_id
    ) AS stop ON stop.child_id = a.child_id
    WHERE a.depth < coalesce(stop.depth, a.depth + 1)
    GROUP BY a.child_id
)
SELECT
    n.flow_id,
    -- a nested flow belongs to the series at the top of its chain
    coalesce(t.series, n.series) AS series,
    n.reporting_series, n.role, n.source_id, n.source_org, n.metric, n.population, n.unit, n.area, n.area_level,
    n.country_iso3, n.admin1_name, n.published_on, n.qualifier,
    n.period_start, n.period_end,
    (n.period_end - n.period_start) + 1 AS days,
    CASE WHEN x.parent_id IS NOT NULL THEN 'nested'
         WHEN n.flow_id IN (SELECT flow_id FROM set_aside) THEN 'overlapping'
         ELSE n.kind END AS kind,
    n.flow_id IN (SELECT flow_id FROM compared) AS compared_only,
    x.parent_id AS parent_flow_id,
    n.value_best, n.value_low, n.value_high,
    n.obs_ids
FROM numbered AS n
LEFT JOIN nested_kept AS x ON x.child_id = n.flow_id
LEFT JOIN chain AS c ON c.flow_id = n.flow_id
LEFT JOIN numbered AS t ON t.flow_id = c.top_id
ORDER BY series, period_start, flow_id
