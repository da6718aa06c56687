-- depends: observations, gazetteer
-- Every observation's place normalised through the gazetteer (aliases in Latin and Arabic spellings);
-- unknown places keep their own text. The area is the most specific one the row names: its place, else its
-- district (admin2, named with its governorate, "Ariha, Idleb", or with its country when the row names no
-- governorate, so that it is never taken for a town of the same name; never looked up in the gazetteer,
-- which knows towns, governorates and regions: district Idleb is not Idlib governorate), else its
-- governorate (the gazetteer's name, else its own with its country, "Ouest, HTI": a global file names
-- regions of several countries alike), else its country. Outside the gazetteer's country a place or district
-- is named with its country too. Two districts are two areas: their figures are never taken for one area's
-- figure published twice. Also the unit rule: households become people only where the source states a
-- household size. A view, not a table: every model reads only the rows it needs, and millions of event rows
-- are not copied once more.
CREATE OR REPLACE VIEW places AS
SELECT
    o.*,
    COALESCE(g.name,
             -- outside the gazetteer's countries a name is given with its country: Lebanon's and Libya's
             -- Tripoli are two areas, never one series, one month or one comparison
             NULLIF(trim(o.place), '')
                 || CASE WHEN o.country_iso3 IS NULL OR gc.code IS NOT NULL THEN '' ELSE ', ' || o.country_iso3 END,
             o.admin2_name || CASE WHEN o.admin1_name IS NULL THEN COALESCE(', ' || o.country_iso3, '')
                                   WHEN o.country_iso3 IS NULL OR gc.code IS NOT NULL THEN ', ' || o.admin1_name
                                   ELSE ', ' || o.admin1_name || ', ' || o.country_iso3 END,
             o.admin1_name || COALESCE(', ' || o.country_iso3, ''),
             gc.name, o.country_iso3) AS area,
    COALESCE(g.level, CASE WHEN o.place IS NOT NULL THEN 'place' WHEN o.admin2_name IS NOT NULL THEN 'admin2'
                           WHEN o.admin1_name IS NOT NULL THEN 'admin1' ELSE 'country' END) AS area_level,
    -- the row is of the country this report is about (the gazetteer's): its headlines and tables lead with it
    gc.code IS NOT NULL AS report_country,
    CASE WHEN o.unit = 'households' AND o.household_size IS NOT NULL THEN 'people' ELSE o.unit END AS unit_people,
    CASE WHEN o.unit = 'households' AND o.household_size IS NOT NULL THEN o.household_size ELSE 1 END AS unit_factor
FROM observations AS o
-- the gazetteer's countries (Syria): a row of another country is never looked up in it (Aleppo, Pennsylvania
-- is not Aleppo governorate), and a row naming only such a country is that country by its gazetteer name
-- ("SYR" and "Syria" are one area)
LEFT JOIN (SELECT code, any_value(name) AS name FROM gazetteer WHERE level = 'country' AND code IS NOT NULL
           GROUP BY code) AS gc
    ON gc.code = o.country_iso3
LEFT JOIN gazetteer AS g
    -- the place, else the governorate of a row with no district; lower and trim run on a column's few
    -- distinct values (its dictionary) instead of on millions of rows
    ON lower(trim(g.alias)) = COALESCE(lower(trim(o.place)), CASE WHEN o.admin2_name IS NULL THEN lower(trim(o.admin1_name)) END)
    AND (o.country_iso3 IS NULL OR gc.code IS NOT NULL)
