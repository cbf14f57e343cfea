package fieldbook.demo

import fieldbook.FieldType
import fieldbook.FieldbookException

/** What kind of trouble a message reports, so a screen can pick a banner, a field hint or a retry. */
enum class MessageKind { INPUT, NOT_FOUND, ACCESS, ENROL, NETWORK, SERVER, STORAGE, WRONG_KEY, CANCELLED, INTERNAL, UNKNOWN }

/**
 * A message for the rep, in Chinese. [code] is kept for diagnostics (a support screen,
 * a log line), never shown alone; [field] is the path an input error is about, so an
 * editor can put the text under that field.
 */
data class UiMessage(
    val text: String,
    val kind: MessageKind,
    val code: String? = null,
    val field: String? = null,
) {
    /** Whether trying again later, unchanged, may work (the edits are safe meanwhile). */
    val retryable: Boolean get() = kind == MessageKind.NETWORK
}

/**
 * The rep's message for a failure, by the error's kind and, where it helps the rep act,
 * its stable code. The library's `reason` is English and meant for logs, so it is not
 * shown; the user's own input never appears in either.
 */
fun Throwable.toUiMessage(schema: CardSchema? = null): UiMessage = when (this) {
    is FieldbookException.InvalidInput -> UiMessage(inputText(code, field, schema), MessageKind.INPUT, code, field)
    is FieldbookException.NotFound -> UiMessage(
        when (code) {
            "card.item_not_found" -> "卡片上已没有这一项"
            else -> "本机没有这张客户卡片（可能已移交给其他区域）"
        },
        MessageKind.NOT_FOUND, code,
    )
    is FieldbookException.AccessDenied -> UiMessage(
        when (code) {
            "access.not_on_behalf" -> "只有主管的设备才能代其他销售代表记录拜访"
            "access.handoff_expired" -> "该区域已移交，您已无权访问这些客户"
            else -> "无权操作：该客户不在您负责的区域"
        },
        MessageKind.ACCESS, code,
    )
    is FieldbookException.Auth -> UiMessage(
        when (code) {
            "sync.not_enrolled" -> "本机尚未登记，请输入主管提供的登记码后再同步"
            "device.not_initialised" -> "本机尚未设置销售代表，请先登记"
            "auth.revoked" -> "本机的授权已被撤销，请向主管索取新的登记码"
            else -> "登记码无效或已过期，请向主管索取新的登记码"
        },
        MessageKind.ENROL, code,
    )
    is FieldbookException.Network -> UiMessage(
        when (code) {
            "sync.busy", "server.busy" -> "同步服务器繁忙，稍后会自动重试；修改已保存在本机"
            "server.storage_full", "server.read_only" -> "同步服务器暂时无法接收数据，稍后会自动重试；修改已保存在本机"
            else -> "无法连接同步服务器。修改已保存在本机，联网后会自动同步"
        },
        MessageKind.NETWORK, code,
    )
    is FieldbookException.Server -> UiMessage("同步服务器拒绝了请求，请联系管理员（错误代码 $code）", MessageKind.SERVER, code)
    is FieldbookException.Storage -> UiMessage(
        when (code) {
            "store.locked" -> "客户数据正被另一个程序使用，请稍后再试"
            "store.closed" -> "客户数据已关闭，请重新打开应用"
            "store.newer_schema" -> "客户数据由更新版本的应用写入，请先升级应用"
            "store.not_fieldbook", "store.corrupt_document" -> "本机客户数据已损坏，请联系管理员"
            else -> "无法读写本机客户数据（存储空间不足或文件损坏）"
        },
        MessageKind.STORAGE, code,
    )
    is FieldbookException.WrongKey -> UiMessage("无法用本机密钥打开客户数据（密钥可能已被系统清除），请联系管理员", MessageKind.WRONG_KEY, code)
    is FieldbookException.Cancelled -> UiMessage("同步已取消，已完成的部分已保存", MessageKind.CANCELLED, code)
    is FieldbookException.Internal -> UiMessage("应用内部错误，请反馈给开发者（错误代码 $code）", MessageKind.INTERNAL, code)
    else -> UiMessage("发生未知错误，请重试", MessageKind.UNKNOWN)
}

private fun inputText(code: String, field: String?, schema: CardSchema?): String {
    val spec = field?.let { schema?.specOf(it) }
    val label = field?.let { schema?.labelOf(it) ?: it }
    return when (code) {
        "input.invalid_value" -> when {
            spec != null -> "「$label」${expected(spec.kind)}"
            label != null -> "「$label」的值无效"
            else -> "输入的值无效，未作任何更改"
        }
        "input.unknown_field" -> "卡片没有这个字段"
        "input.invalid_id" -> "卡片编号无效"
        "card.no_conflict" -> "这个字段已没有冲突，无需处理"
        "card.too_large" -> "卡片内容过多，无法保存"
        else -> "输入有误，未作任何更改"
    }
}

/** What a field of this kind takes, as the end of a sentence naming the field. */
fun expected(kind: FieldType): String = when (kind) {
    FieldType.TEXT, FieldType.LONG_TEXT -> "的内容无效"
    FieldType.INTEGER -> "应为整数"
    FieldType.COUNT -> "应为不小于 0 的整数"
    FieldType.MONEY -> "应为金额（元，最多两位小数）"
    FieldType.DATE -> "应为日期，例如 2026-12-01"
    FieldType.TIMESTAMP -> "应为时间，例如 2026-12-01T09:30:00+08:00"
    FieldType.LATITUDE -> "应为 -90 到 90 之间的纬度"
    FieldType.LONGITUDE -> "应为 -180 到 180 之间的经度"
    FieldType.DAY_OF_MONTH -> "应为 1 到 31 之间的日期"
    FieldType.BOOL -> "应为“是”或“否”"
    FieldType.CHOICE -> "请从列表中选择"
}
