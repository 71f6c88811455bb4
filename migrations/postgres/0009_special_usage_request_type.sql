-- Rule 13 counts the items of SPECIAL requests only: the importer's requests are read with
-- their type as well, still from index entries only.
DROP INDEX requests_by_importer;
CREATE INDEX requests_by_importer
    ON requests (importer_tax_number, importer_branch, id)
    INCLUDE (usage_year, decision, request_type);
