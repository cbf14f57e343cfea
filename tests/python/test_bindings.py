"""The Python bindings over the real library: open, create, search, sync, typed errors."""

import asyncio

import pytest


def edit(fb, path, value):
    return fb.FieldEdit(path=path, value=value)


def test_open_create_search_sync(fieldbook, server, tmp_path):
    fb = fieldbook
    phone = fb.Fieldbook.open(str(tmp_path / "phone.db"), None)
    enrolment = phone.enrol(server.url, server.token("zhangwei"))
    assert enrolment.rep_id == "zhangwei"
    first = asyncio.run(phone.sync(None))
    assert first.cards_new == 20
    card_id = phone.create_card(
        [edit(fb, "basic.name", "南京新街口百货"), edit(fb, "territory", "east")]
    )
    assert [r.id for r in phone.search("新街口", 10)] == [card_id]
    assert phone.card(card_id).name == "南京新街口百货"
    assert phone.status().pending_cards == 1
    pushed = asyncio.run(phone.sync(None))
    assert pushed.pending_cards == 0

    other = fb.Fieldbook.open(str(tmp_path / "other.db"), None)
    other.enrol(server.url, server.token("zhangwei", name="第二台手机"))
    asyncio.run(other.sync(None))
    assert other.card(card_id).name == "南京新街口百货"
    assert all(h.rep == "zhangwei" for h in other.history(card_id))


def test_typed_errors(fieldbook, tmp_path):
    fb = fieldbook
    key = bytes(range(32))
    path = str(tmp_path / "errors.db")
    phone = fb.Fieldbook.open(path, key)
    phone.init_rep("zhangwei")
    card_id = phone.create_card([edit(fb, "basic.name", "上海华东客户服务有限公司")])
    with pytest.raises(fb.FieldbookError.InvalidInput) as invalid:
        phone.update_card(card_id, [edit(fb, "credit.credit_limit", "很多")])
    assert invalid.value.code == "input.invalid_value"
    assert invalid.value.field == "credit.credit_limit"
    with pytest.raises(fb.FieldbookError.NotFound) as missing:
        phone.card("3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21")
    assert missing.value.code == "card.not_found"
    with pytest.raises(fb.FieldbookError.Storage) as locked:
        fb.Fieldbook.open(path, key)
    assert locked.value.code == "store.locked"
    with pytest.raises(fb.FieldbookError.Auth):
        asyncio.run(phone.sync(None))
    phone.close_store()
    with pytest.raises(fb.FieldbookError.WrongKey):
        fb.Fieldbook.open(path, bytes(32))
    assert fb.Fieldbook.open(path, key).card(card_id).name == "上海华东客户服务有限公司"
