-- depends: displacement_pace, displacement_waves
-- The peak 1-, 4-, 7- and 30-day windows of each wave (windows lying wholly inside the wave and
-- fully covered by daily figures), and the days each wave took to pass 100,000, 500,000 and 900,000.
CREATE OR REPLACE TABLE displacement_peaks AS
WITH windows AS (
    -- pace has one row per place, unit and date, so a window of n rows that spans n days is the n days
    -- ending on `date`, each with a figure: frames counted in rows cost far less than frames of dates.
    -- The four window lengths share one partition and order, so the rows are sorted once.
    SELECT place, unit, wave_id, wave_label, date,
        people_best AS total_1,
        sum(people_best) OVER (w ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS total_4,
        sum(people_best) OVER (w ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS total_7,
        sum(people_best) OVER (w ROWS BETWEEN 29 PRECEDING AND CURRENT ROW) AS total_30,
        date - lag(date, 3) OVER w = 3 AS full_4,
        date - lag(date, 6) OVER w = 6 AS full_7,
        date - lag(date, 29) OVER w = 29 AS full_30
    FROM displacement_pace
    WHERE wave_id IS NOT NULL
    WINDOW w AS (PARTITION BY place, unit, wave_id ORDER BY date)
),
complete AS (
    -- one row per window length that ends on `date` and is fully covered
    SELECT place, unit, wave_id, wave_label, date, w.window_days, w.window_total
    FROM windows,
        LATERAL (SELECT * FROM (VALUES (1, total_1, TRUE), (4, total_4, full_4), (7, total_7, full_7),
                                       (30, total_30, full_30)) AS v(window_days, window_total, covered)
                 WHERE covered) AS w
),
peaks AS (
    SELECT place, unit, wave_id, any_value(wave_label) AS wave_label, 'peak_window' AS measure, window_days,
        -- on a tie, the earliest window; arg_max on the total alone would keep whichever row came first.
        -- Totals within a millionth of a person are a tie: a float sum of the same days can differ in
        -- its last digit from one frame to the next (230 of 8,588 peaks ended late at 5M without this)
        arg_max(date, (round(window_total, 6), -(date - DATE '1970-01-01'))) FILTER (WHERE window_total IS NOT NULL) AS end_date,
        arg_max(window_total, (round(window_total, 6), -(date - DATE '1970-01-01'))) FILTER (WHERE window_total IS NOT NULL) AS total
    FROM complete
    GROUP BY place, unit, wave_id, window_days
),
thresholds AS (
    SELECT p.place, p.unit, p.wave_id, any_value(p.wave_label) AS wave_label, 'days_to_pass' AS measure,
        t.threshold, min(p.date) AS end_date
    FROM displacement_pace AS p
    CROSS JOIN (VALUES (100000), (500000), (900000)) AS t(threshold)
    -- within a millionth of a person, as for the peaks: the running total of OCHA's "some 900,000" by
    -- 20 February 2020 sums to 899,999.9999999999, and that day passes 900,000, not the next
    WHERE round(p.cumulative_in_wave, 6) >= t.threshold
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
