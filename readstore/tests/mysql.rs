//! The contract suite against MySQL/MariaDB. Needs `IMAGEGRAM_TEST_MYSQL_URL`
//! (`./x test` points it at the machine's MariaDB); without it every test
//! skips. Each test gets a database of its own.

mod contract;

read_contract_suite!(imagegram_testkit::mysql_store_with(4).await);
