import Foundation

public enum MessageKind: Sendable { case input, notFound, access, enrol, network, server, storage, wrongKey, cancelled, `internal`, unknown }

/// A message for the rep, in Chinese; `code` is for diagnostics, never shown alone.
/// The same table as the Kotlin `UiMessage.kt` (tested there against the real library).
public struct UIMessage: Equatable, Sendable {
    public let text: String
    public let kind: MessageKind
    public let code: String?
    public let field: String?
    public var retryable: Bool { kind == .network }
}

public func uiMessage(for error: Error, schema: CardSchema? = nil) -> UIMessage {
    guard let error = error as? FieldbookError else {
        return UIMessage(text: "发生未知错误，请重试", kind: .unknown, code: nil, field: nil)
    }
    func m(_ text: String, _ kind: MessageKind, _ code: String, _ field: String? = nil) -> UIMessage {
        UIMessage(text: text, kind: kind, code: code, field: field)
    }
    switch error {
    case let .InvalidInput(code, _, field):
        return m(inputText(code: code, field: field, schema: schema), .input, code, field)
    case let .NotFound(code, _):
        return m(code == "card.item_not_found" ? "卡片上已没有这一项" : "本机没有这张客户卡片（可能已移交给其他区域）", .notFound, code)
    case let .AccessDenied(code, _):
        switch code {
        case "access.not_on_behalf": return m("只有主管的设备才能代其他销售代表记录拜访", .access, code)
        case "access.handoff_expired": return m("该区域已移交，您已无权访问这些客户", .access, code)
        default: return m("无权操作：该客户不在您负责的区域", .access, code)
        }
    case let .Auth(code, _):
        switch code {
        case "sync.not_enrolled": return m("本机尚未登记，请输入主管提供的登记码后再同步", .enrol, code)
        case "device.not_initialised": return m("本机尚未设置销售代表，请先登记", .enrol, code)
        case "auth.revoked": return m("本机的授权已被撤销，请向主管索取新的登记码", .enrol, code)
        default: return m("登记码无效或已过期，请向主管索取新的登记码", .enrol, code)
        }
    case let .Network(code, _):
        switch code {
        case "sync.busy", "server.busy": return m("同步服务器繁忙，稍后会自动重试；修改已保存在本机", .network, code)
        case "server.storage_full", "server.read_only": return m("同步服务器暂时无法接收数据，稍后会自动重试；修改已保存在本机", .network, code)
        default: return m("无法连接同步服务器。修改已保存在本机，联网后会自动同步", .network, code)
        }
    case let .Server(code, _):
        return m("同步服务器拒绝了请求，请联系管理员（错误代码 \(code)）", .server, code)
    case let .Storage(code, _):
        switch code {
        case "store.locked": return m("客户数据正被另一个程序使用，请稍后再试", .storage, code)
        case "store.closed": return m("客户数据已关闭，请重新打开应用", .storage, code)
        case "store.newer_schema": return m("客户数据由更新版本的应用写入，请先升级应用", .storage, code)
        case "store.not_fieldbook", "store.corrupt_document": return m("本机客户数据已损坏，请联系管理员", .storage, code)
        default: return m("无法读写本机客户数据（存储空间不足或文件损坏）", .storage, code)
        }
    case let .WrongKey(code, _):
        return m("无法用本机密钥打开客户数据（密钥可能已被系统清除），请联系管理员", .wrongKey, code)
    case let .Cancelled(code, _):
        return m("同步已取消，已完成的部分已保存", .cancelled, code)
    case let .Internal(code, _):
        return m("应用内部错误，请反馈给开发者（错误代码 \(code)）", .internal, code)
    }
}

private func inputText(code: String, field: String?, schema: CardSchema?) -> String {
    switch code {
    case "input.invalid_value":
        guard let field else { return "输入的值无效，未作任何更改" }
        let label = schema?.label(of: field) ?? field
        if let kind = schema?.spec(of: field)?.kind { return "「\(label)」\(expected(kind))" }
        return "「\(label)」的值无效"
    case "input.unknown_field": return "卡片没有这个字段"
    case "input.invalid_id": return "卡片编号无效"
    case "card.no_conflict": return "这个字段已没有冲突，无需处理"
    case "card.too_large": return "卡片内容过多，无法保存"
    default: return "输入有误，未作任何更改"
    }
}

func expected(_ kind: FieldType) -> String {
    switch kind {
    case .text, .longText: return "的内容无效"
    case .integer: return "应为整数"
    case .count: return "应为不小于 0 的整数"
    case .money: return "应为金额（元，最多两位小数）"
    case .date: return "应为日期，例如 2026-12-01"
    case .timestamp: return "应为时间，例如 2026-12-01T09:30:00+08:00"
    case .latitude: return "应为 -90 到 90 之间的纬度"
    case .longitude: return "应为 -180 到 180 之间的经度"
    case .dayOfMonth: return "应为 1 到 31 之间的日期"
    case .bool: return "应为“是”或“否”"
    case .choice: return "请从列表中选择"
    }
}
