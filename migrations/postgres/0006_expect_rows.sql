-- A new permit request is written in one statement of data-modifying common table
-- expressions. Its last part checks the number of rows each part wrote with this function,
-- whose error rolls the whole statement back: a request is never stored half.
CREATE FUNCTION gateway_expect_rows(actual BIGINT, expected BIGINT, what TEXT)
RETURNS BOOLEAN
LANGUAGE plpgsql
AS $$
BEGIN
    IF actual IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'storing % touched % rows instead of %', what, actual, expected
            USING ERRCODE = 'data_exception';
    END IF;
    RETURN TRUE;
END
$$;
