-- depends: observations, gazetteer
-- Every observation's place normalised through the gazetteer (aliases in Latin and Arabic
-- spellings); unknown places keep their own text. Also the unit rule: households become people only
-- where the source states a household size. A view, not a table: every model reads only the rows it
-- needs, and millions of event rows are not copied once more.
CREATE OR REPLACE VIEW places AS
SELECT
    o.*,
    COALESCE(g.name, NULLIF(trim(o.place), ''), o.admin1_name, o.country_iso3) AS area,
    COALESCE(g.level, CASE WHEN o.place IS NULL AND o.admin1_name IS NULL THEN 'country' ELSE 'place' END) AS area_level,
    CASE WHEN o.unit = 'households' AND o.household_size IS NOT NULL THEN 'people' ELSE o.unit END AS unit_people,
    CASE WHEN o.unit = 'households' AND o.household_size IS NOT NULL THEN o.household_size ELSE 1 END AS unit_factor
FROM observations AS o
LEFT JOIN gazetteer AS g
    -- the same key as lower(trim(COALESCE(place, admin1_name))), but lower and trim each run on a
    -- column's few distinct values (its dictionary) instead of on millions of rows
    ON lower(trim(g.alias)) = COALESCE(lower(trim(o.place)), lower(trim(o.admin1_name)))
