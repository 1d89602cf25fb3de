from __future__ import annotations

from chispa import assert_df_equality

from lakerec.core.config import load_config
from lakerec.ingest.adapters import looks_like_online_retail, online_retail_to_events


def test_online_retail_lines_become_events(spark):
    names = load_config().ingest.online_retail
    df = spark.createDataFrame([
        ("536365", "85123A", "WHITE HEART", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "UK"),
        ("C536379", "22556", "PLASTERS", "-12", "2010-12-01 09:41:00", "1.65", "14527.0", "UK"),
        ("536414", "22139", "Unknown", "56", "2010-12-01 11:52:00", "0.0", None, "UK"),
        ("536415", "22140", "ADJUST", "-5", "2010-12-01 11:53:00", "1.0", "12345.0", "UK"),
    ], ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
        "CustomerID", "Country"])
    assert looks_like_online_retail(df.columns, names)
    out = df.transform(online_retail_to_events(names))
    expected = spark.createDataFrame([
        ("17850", "85123A", "2010-12-01 08:26:00", "purchase", "6", "536365", "2.55",
         "WHITE HEART", "UK"),
        ("14527", "22556", "2010-12-01 09:41:00", "return", "12", "C536379", "1.65", "PLASTERS",
         "UK"),
        (None, "22139", "2010-12-01 11:52:00", "purchase", "56", "536414", "0.0", "Unknown", "UK"),
        ("12345", "22140", "2010-12-01 11:53:00", "purchase", "-5", "536415", "1.0", "ADJUST",
         "UK"),
    ], ["user_id", "item_id", "event_ts", "event_type", "quantity", "order_id", "price",
        "item_title", "country"])
    assert_df_equality(out, expected, ignore_nullable=True, ignore_column_order=True)


def test_contract_files_are_not_taken_for_transaction_logs():
    names = load_config().ingest.online_retail
    assert not looks_like_online_retail(["user_id", "item_id", "event_type", "event_ts"], names)


def test_a_transaction_log_under_other_names_gets_the_settings_that_map_it() -> None:
    from lakerec.core.config import load_config
    from lakerec.ingest.adapters import transaction_log_hint

    names = load_config(None, [], environ={}).ingest.online_retail
    online_retail_ii = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate",
                        "Price", "Customer ID", "Country"]
    hint = transaction_log_hint(online_retail_ii, names)
    assert hint is not None and "looks like a transaction log" in hint
    assert "--set 'ingest.online_retail.invoice=Invoice'" in hint
    assert "--set 'ingest.online_retail.price=Price'" in hint
    assert "--set 'ingest.online_retail.customer=Customer ID'" in hint
    assert "StockCode'" not in hint  # already the configured name
    # a file that is no transaction log gets no hint
    assert transaction_log_hint(["user", "thing", "when"], names) is None
