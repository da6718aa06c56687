-- depends: displacement_daily
-- Waves found in the data: runs of days of the chosen series with people displaced, where a day with a
-- figure more than 30 days after the previous one (30 days or more without any figure) starts a new wave.
CREATE OR REPLACE TABLE displacement_waves AS
WITH chosen AS (
    SELECT date, place, unit, people_best
    FROM displacement_daily
    WHERE series_role = 'chosen' AND metric = 'displaced' AND population = 'all' AND people_best > 0
),
marked AS (
    SELECT *, CASE WHEN date - lag(date) OVER (PARTITION BY place, unit ORDER BY date) <= 30 THEN 0 ELSE 1 END AS new_wave
    FROM chosen
),
numbered AS (
    SELECT *, sum(new_wave) OVER (PARTITION BY place, unit ORDER BY date) AS wave_no FROM marked
)
SELECT
    place, unit, wave_no,
    place || ' | ' || unit || ' | ' || strftime(min(date), '%Y-%m') AS wave_id,
    strftime(min(date), '%B %Y') || ' to ' || strftime(max(date), '%B %Y') AS wave_label,
    min(date) AS start_date,
    max(date) AS end_date,
    count(*) AS days_with_figures,
    arg_max(date, (people_best, -(date - DATE '1970-01-01'))) AS peak_date,  -- on a tie, the earliest day
    max(people_best) AS peak_people_per_day,
    sum(people_best ORDER BY date) AS total_people  -- in date order: a float sum's last digit depends on order
FROM numbered
GROUP BY place, unit, wave_no
ORDER BY place, unit, start_date
