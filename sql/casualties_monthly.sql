-- depends: places
-- Deaths per month: civilians, or everyone killed where a figure does not single civilians out (HAPI's
-- and ACLED's political violence counts combatants too); `population` says which, and the two are never
-- mixed. A figure counts as monthly when its period is one whole calendar month. A figure published
-- twice by one source for one place, population and span (its own report and a relay of it, or a
-- restatement) is counted once: the latest published. A month missing from a source's monthly series
-- is derived (`derived` = true) when one of that source's figures for a longer span of whole months
-- leaves exactly that month unknown: it is the span's figure less the months that are known. A row's
-- place level is its own figure's (a place named at two levels somewhere in the data is not counted twice).
-- `notes` are the figure's own (what it includes, such as deaths under torture, which SNHR counts within
-- some monthly figures and apart from others).
CREATE OR REPLACE TABLE casualties_monthly AS
WITH killed AS (
    -- Only figures for whole months are used, so the test is made here, before anything else. A whole
    -- month ends after it starts: that plain comparison of two columns reaches below the place lookup
    -- in the view and drops the millions of single-day event rows first.
    SELECT *, datediff('month', period_start, period_end) + 1 AS n_months
    FROM places
    -- ACLED's event rows (pipeline/sources/acled.py EVENTS_TITLE) are events, not monthly totals: an event
    -- dated only to its month is one event, not the place's month (ACLED's monthly totals come through HDX,
    -- `acled-hdx`, and HDX HAPI; a curated ACLED figure is a total, and stays)
    WHERE metric = 'killed' AND unit = 'people' AND period_end > period_start
        AND NOT (source_id = 'acled' AND source_title = 'ACLED event data')
        AND period_start = date_trunc('month', period_start) AND period_end = last_day(period_end)
),
once AS (
    SELECT * FROM killed
    QUALIFY row_number() OVER (PARTITION BY source_id, area, population, period_start, period_end
                               ORDER BY published_on DESC NULLS LAST, obs_id) = 1
),
monthly AS (
    SELECT
        period_start AS month, country_iso3, admin1_name, area AS place, area_level, source_id, source_org,
        population, value_best, value_low, value_high, obs_id, notes
    FROM once
    WHERE n_months = 1
),
counted AS (SELECT * FROM monthly WHERE population IN ('civilians', 'all')),
spans AS (
    SELECT k.*, unnest(generate_series(k.period_start, k.period_end, INTERVAL 1 MONTH))::DATE AS month
    FROM once AS k
    WHERE k.n_months > 1 AND k.population IN ('civilians', 'all')
),
span_gaps AS (
    SELECT
        s.obs_id AS span_obs_id, any_value(s.value_best) AS span_best, any_value(s.value_low) AS span_low,
        any_value(s.value_high) AS span_high, any_value(s.source_id) AS source_id, any_value(s.source_org) AS source_org,
        any_value(s.country_iso3) AS country_iso3, any_value(s.admin1_name) AS admin1_name, any_value(s.area) AS place,
        any_value(s.area_level) AS area_level, any_value(s.population) AS population,
        any_value(s.n_months) AS n_months,
        count(c.month) AS known_months,
        sum(c.value_best) AS known_best,
        -- over the known months only: the missing month's joined columns are all NULL
        CASE WHEN bool_and(c.value_low IS NOT NULL) FILTER (WHERE c.month IS NOT NULL) THEN sum(c.value_low) END AS known_low,
        CASE WHEN bool_and(c.value_high IS NOT NULL) FILTER (WHERE c.month IS NOT NULL) THEN sum(c.value_high) END AS known_high,
        min(s.month) FILTER (WHERE c.month IS NULL) AS missing_month,
        list(c.obs_id ORDER BY c.month, c.obs_id) FILTER (WHERE c.obs_id IS NOT NULL) AS known_ids
    FROM spans AS s
    LEFT JOIN counted AS c
        ON c.source_id = s.source_id AND c.place = s.area AND c.population = s.population AND c.month = s.month
    GROUP BY s.obs_id
),
derived AS (
    SELECT
        missing_month AS month, country_iso3, admin1_name, place, area_level, source_id, source_org,
        population,
        span_best - known_best AS killed_best,
        span_low - known_high AS killed_low,
        span_high - known_low AS killed_high,
        list_prepend(span_obs_id, known_ids) AS obs_ids,
        CAST(NULL AS VARCHAR) AS notes
    FROM span_gaps
    WHERE known_months = n_months - 1
    -- two of a source's spans may leave the same month unknown (its year, and its quarter): the month is
    -- derived once, from the shortest span (the fewest other months' figures in the subtraction)
    QUALIFY row_number() OVER (PARTITION BY source_id, place, population, missing_month
                               ORDER BY n_months, span_obs_id) = 1
),
combined AS (
    SELECT month, country_iso3, admin1_name, place, area_level, source_id, source_org, population,
        value_best AS killed_best, value_low AS killed_low, value_high AS killed_high, [obs_id] AS obs_ids, notes,
        false AS derived
    FROM counted
    UNION ALL
    SELECT *, true FROM derived
    WHERE NOT EXISTS (
        SELECT 1 FROM counted AS c WHERE c.source_id = derived.source_id AND c.place = derived.place
            AND c.population = derived.population AND c.month = derived.month
    )
)
SELECT
    c.month, c.country_iso3,
    CASE WHEN c.area_level IN ('country', 'region') THEN NULL ELSE c.admin1_name END AS admin1_name,
    c.place, c.population, c.killed_best, c.killed_low, c.killed_high,
    ch.value_best AS children_best, wo.value_best AS women_best,
    c.source_id, c.source_org, c.derived, c.notes, c.obs_ids
FROM combined AS c
-- children and women killed are given beside the civilians they are part of, never beside everyone killed
LEFT JOIN monthly AS ch ON c.population = 'civilians' AND ch.population = 'children' AND ch.source_id = c.source_id
    AND ch.place = c.place AND ch.month = c.month
LEFT JOIN monthly AS wo ON c.population = 'civilians' AND wo.population = 'women' AND wo.source_id = c.source_id
    AND wo.place = c.place AND wo.month = c.month
ORDER BY c.place, c.month, c.source_id
