-- depends: displacement_pace, displacement_waves
-- The peak 1-, 4-, 7- and 30-day windows of each wave (windows lying wholly inside the wave and
-- fully covered by daily figures), and the days each wave took to pass 100,000, 500,000 and 900,000.
CREATE OR REPLACE TABLE displacement_peaks AS
WITH windows AS (
    -- pace has one row per place, unit and date, so a window of n rows that spans n days is the n days
    -- ending on `date`, each with a figure: frames counted in rows cost far less than frames of dates
    SELECT p.*, k.window_days,
        sum(p.people_best) OVER (PARTITION BY p.place, p.unit, p.wave_id, k.window_days ORDER BY p.date
            ROWS BETWEEN k.window_days - 1 PRECEDING AND CURRENT ROW) AS window_total,
        CASE WHEN p.date - lag(p.date, k.window_days - 1) OVER (PARTITION BY p.place, p.unit, p.wave_id,
                k.window_days ORDER BY p.date) = k.window_days - 1
            THEN k.window_days END AS window_count
    FROM displacement_pace AS p
    CROSS JOIN (VALUES (1), (4), (7), (30)) AS k(window_days)
    WHERE p.wave_id IS NOT NULL
),
peaks AS (
    SELECT place, unit, wave_id, any_value(wave_label) AS wave_label, 'peak_window' AS measure, window_days,
        -- on a tie, the earliest window; arg_max on the total alone would keep whichever row came first
        arg_max(date, (window_total, -(date - DATE '1970-01-01'))) FILTER (WHERE window_total IS NOT NULL) AS end_date,
        max(window_total) AS total
    FROM windows
    WHERE window_count = window_days
    GROUP BY place, unit, wave_id, window_days
),
thresholds AS (
    SELECT p.place, p.unit, p.wave_id, any_value(p.wave_label) AS wave_label, 'days_to_pass' AS measure,
        t.threshold, min(p.date) AS end_date
    FROM displacement_pace AS p
    CROSS JOIN (VALUES (100000), (500000), (900000)) AS t(threshold)
    WHERE p.cumulative_in_wave >= t.threshold
    GROUP BY p.place, p.unit, p.wave_id, t.threshold
)
SELECT place, unit, wave_id, wave_label, measure, window_days, NULL::INTEGER AS threshold,
    (end_date - (window_days - 1) * INTERVAL 1 DAY)::DATE AS start_date, end_date,
    total AS people, total / window_days AS people_per_day, NULL::INTEGER AS days_taken
FROM peaks
UNION ALL
SELECT t.place, t.unit, t.wave_id, t.wave_label, t.measure, NULL, t.threshold,
    w.start_date, t.end_date, t.threshold, NULL, (t.end_date - w.start_date) + 1
FROM thresholds AS t
JOIN displacement_waves AS w ON w.wave_id = t.wave_id
ORDER BY place, unit, wave_id, measure, window_days, threshold
