-- depends: places, displacement_peaks, displacement_daily
-- The few numbers the report leads with, each with its period, qualifier and sources, for the country the
-- report is about (the gazetteer's: another country's figures stay in the tables, never in the lead), and `notes`: the
-- figure's own (what it counts, how its period was read) or, for an estimate of this report's, how it is made.
CREATE OR REPLACE TABLE headline_figures AS
WITH scale AS (
    SELECT 1 AS rank, 'scale' AS key, 'People displaced in ' || area AS label, value_best, value_low, value_high, qualifier,
        'people' AS unit, period_start, period_end, area AS place, source_org, source_title, source_url,
        [obs_id] AS obs_ids, notes
    FROM places
    WHERE metric = 'displaced' AND basis = 'cumulative' AND unit = 'people' AND population = 'all'
        AND role = 'recommended' AND area_level IN ('region', 'country') AND report_country
        -- the largest count the data holds, not the largest ceiling: "up to 1,200,000" says at most that many
        AND qualifier NOT IN ('up_to', 'less_than')
    ORDER BY value_best DESC, period_end DESC, obs_id
    LIMIT 1
),
pace AS (
    SELECT 2 AS rank, 'peak_pace' AS key,
        'People displaced per day at the peak (' || window_days || ' days), ' || p.place AS label,
        p.people_per_day AS value_best, NULL::DOUBLE AS value_low, NULL::DOUBLE AS value_high,
        -- a rate from "more than" totals only is a lower bound, as the pace page says of the same window
        CASE WHEN bool_and(coalesce(d.people_low = d.people_best, false) AND d.people_high IS NULL) THEN 'at_least'
             ELSE 'estimated' END AS qualifier,
        'people per day' AS unit, p.start_date AS period_start, p.end_date AS period_end, p.place,
        string_agg(DISTINCT d.source_org, '; ' ORDER BY d.source_org) AS source_org, NULL AS source_title,
        NULL AS source_url, flatten(list(DISTINCT d.obs_ids ORDER BY d.obs_ids)) AS obs_ids,
        -- no source counted people per day: the rate is this report's, from the figures of its days
        'This report''s estimate: the ' || format('{:,}', CAST(round(p.people) AS BIGINT)) || ' people of the fastest '
            || p.window_days || ' days in its daily series, divided by ' || p.window_days || '.' AS notes
    FROM displacement_peaks AS p
    JOIN displacement_daily AS d
        ON d.place = p.place AND d.unit = p.unit AND d.series_role = 'chosen' AND d.metric = 'displaced'
        AND d.population = 'all' AND d.date BETWEEN p.start_date AND p.end_date
    WHERE p.measure = 'peak_window' AND p.window_days = 4 AND p.unit = 'people'
        AND d.country_iso3 IN (SELECT code FROM gazetteer WHERE level = 'country')
    GROUP BY ALL
    ORDER BY p.people_per_day DESC, p.place, p.start_date
    LIMIT 1
),
place_pace AS (
    SELECT 3 AS rank, 'place_flight' AS key, 'People who fled ' || area || ' in ' || ((period_end - period_start) + 1)
            || CASE WHEN period_end > period_start THEN ' days' ELSE ' day' END AS label,
        value_best, value_low, value_high, qualifier, 'people' AS unit, period_start, period_end, area AS place,
        source_org, source_title, source_url, [obs_id] AS obs_ids, notes
    FROM places
    WHERE metric = 'displaced' AND basis = 'flow' AND unit = 'people' AND population = 'all' AND area_level = 'place'
        AND report_country
    ORDER BY value_best / ((period_end - period_start) + 1) DESC, obs_id
    LIMIT 1
),
deaths AS (
    SELECT 4 + row_number() OVER (ORDER BY period_start, area, obs_id) AS rank, 'killed_' || year(period_start) AS key,
        'Civilians killed in ' || area || ' in ' || year(period_start) AS label,
        value_best, value_low, value_high, qualifier, 'people' AS unit, period_start, period_end, area AS place,
        source_org, source_title, source_url, [obs_id] AS obs_ids, notes
    FROM places
    -- period_end > period_start first: a comparison of two columns reaches below the place lookup in
    -- the view, so the million single-day event rows never get there
    WHERE metric = 'killed' AND population = 'civilians' AND role = 'recommended' AND period_end > period_start
        AND area_level = 'country' AND report_country
        AND month(period_start) = 1 AND day(period_start) = 1 AND month(period_end) = 12 AND day(period_end) = 31
        AND year(period_start) = year(period_end)
    -- a source's year published twice (its report and a relay of it) is one card: the latest published, as
    -- in casualties_monthly
    QUALIFY row_number() OVER (PARTITION BY source_id, area, period_start, period_end
                               ORDER BY published_on DESC NULLS LAST, obs_id) = 1
)
SELECT * FROM (
    SELECT * FROM scale UNION ALL BY NAME SELECT * FROM pace UNION ALL BY NAME SELECT * FROM place_pace
    UNION ALL BY NAME SELECT * FROM deaths
)
ORDER BY rank
