-- A request with items under a special-import purpose sums the importer's earlier quantities
-- per purpose and year (decision rule 13). Both sides of that query are covered by an index,
-- so that it can read index entries only, and not the rows of the importer's earlier requests
-- and items, which are scattered over the whole table.
--
-- The importer's requests, in order, with the year and decision the sum needs.
DROP INDEX requests_by_importer;
CREATE INDEX requests_by_importer
    ON requests (importer_tax_number, importer_branch, id) INCLUDE (usage_year, decision);

-- The items under a special-import purpose, by request, with what the sum needs.
DROP INDEX request_items_by_purpose;
CREATE INDEX request_items_special
    ON request_items (request_pk) INCLUDE (special_purpose, status, quantity_milli)
    WHERE special_purpose IS NOT NULL;
