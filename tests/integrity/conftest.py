from tests.curation.conftest import eva_client, leo_client  # noqa: F401  (admin clients per role)
