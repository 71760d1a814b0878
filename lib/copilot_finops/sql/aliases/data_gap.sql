-- grain: kind, day
-- Alias of mart_data_gap under the name DESIGN.md gives the view: per daily report kind and day, what is missing,
-- late or partial.
SELECT * FROM mart_data_gap
