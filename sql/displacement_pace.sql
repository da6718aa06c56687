-- depends: displacement_daily, displacement_waves
-- The chosen series of people newly displaced per day, with 7- and 30-day rolling rates (averages over
-- the days that have a figure; `days_in_window` says how many) and the running total within each wave.
CREATE OR REPLACE TABLE displacement_pace AS
SELECT
    d.date, d.place, d.unit, d.people_best, d.people_low, d.people_high, d.series, d.source_org,
    w.wave_id, w.wave_label,
    avg(d.people_best) OVER w7 AS rolling_7d,
    count(*) OVER w7 AS days_in_7d,
    avg(d.people_best) OVER w30 AS rolling_30d,
    count(*) OVER w30 AS days_in_30d,
    -- within its wave; a day in no wave (a reported zero between waves) has none
    CASE WHEN w.wave_id IS NOT NULL THEN sum(d.people_best) OVER (PARTITION BY d.place, d.unit, w.wave_id ORDER BY d.date)
    END AS cumulative_in_wave
FROM displacement_daily AS d
LEFT JOIN displacement_waves AS w
    ON w.place = d.place AND w.unit = d.unit AND d.date BETWEEN w.start_date AND w.end_date
WHERE d.series_role = 'chosen' AND d.metric = 'displaced' AND d.population = 'all'
WINDOW
    w7 AS (PARTITION BY d.place, d.unit ORDER BY d.date RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW),
    w30 AS (PARTITION BY d.place, d.unit ORDER BY d.date RANGE BETWEEN INTERVAL 29 DAYS PRECEDING AND CURRENT ROW)
ORDER BY d.place, d.unit, d.date
