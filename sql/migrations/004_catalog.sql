-- price_catalog rows say where each price came from: the bundled snapshot, a live refresh of one cloud, or an override
alter table price_catalog add column if not exists origin varchar;
