import SwiftUI
import FieldbookKit

// The screens over FieldbookKit's models, as on Android. Not compiled: no Xcode or
// swiftc on the machine that wrote them. `FieldbookKit.Section` and `Collection` are
// spelled out where SwiftUI's `Section` and Swift's `Collection` would clash.

private func shown(_ date: Date?) -> String {
    guard let date else { return "—" }
    return date.formatted(date: .numeric, time: .shortened)
}

struct SyncBarView: View {
    @ObservedObject var sync: SyncModel

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            HStack {
                VStack(alignment: .leading) {
                    Text("上次同步：\(shown(sync.lastSync))").font(.subheadline)
                    Text(sync.pendingCards > 0 ? "待上传 \(sync.pendingCards) 张卡片" : "全部已上传").font(.caption)
                }
                Spacer()
                if sync.running { Button("取消") { sync.cancel() } }
                Button(sync.running ? "同步中…" : "同步") { Task { await sync.sync() } }
                    .buttonStyle(.borderedProminent)
                    .disabled(sync.running || !sync.enrolled)
            }
            // Indeterminate: a sync does not know how many requests it will take.
            if sync.running { ProgressView().progressViewStyle(.linear) }
            if let line = sync.running ? sync.progressText : sync.summaryText { Text(line).font(.caption) }
            if let message = sync.message { MessageView(message: message) { sync.dismissMessage() } }
        }
    }
}

struct MessageView: View {
    let message: UIMessage
    let dismiss: () -> Void

    var body: some View {
        HStack {
            Text(message.text).font(.callout)
            Spacer()
            Button("知道了", action: dismiss)
        }
        .padding(8)
        .background(message.retryable ? Color.yellow.opacity(0.2) : Color.red.opacity(0.15))
    }
}

struct CardListView: View {
    let session: FieldbookSession
    @ObservedObject var list: CardListModel
    @ObservedObject var sync: SyncModel

    var body: some View {
        List {
            SyncBarView(sync: sync)
            Toggle("只看有冲突的", isOn: $list.conflictedOnly)
            if let message = list.message { MessageView(message: message) { list.dismissMessage() } }
            ForEach(list.rows, id: \.id) { row in
                NavigationLink {
                    CardDetailView(session: session, cardId: row.id)
                } label: {
                    VStack(alignment: .leading) {
                        HStack {
                            Text(row.name).font(.headline)
                            Spacer()
                            if let c = row.`class` { Text("\(c)类") }
                        }
                        Text([row.city, row.phone, row.nextDue.map { "下次拜访 \($0)" }].compactMap { $0 }.joined(separator: " · ")).font(.caption)
                        if row.conflicts > 0 { Text("\(row.conflicts) 个字段有冲突").font(.caption).foregroundStyle(.red) }
                    }
                }
            }
        }
        .searchable(text: $list.query, prompt: "搜索客户名称、电话")
        .navigationTitle("我的客户")
        .toolbar {
            NavigationLink("新建") { EditorView(session: session, target: .newCard, title: "新建客户") }
        }
    }
}

struct CardDetailView: View {
    let session: FieldbookSession
    @StateObject private var model: CardDetailModel

    init(session: FieldbookSession, cardId: String) {
        self.session = session
        _model = StateObject(wrappedValue: CardDetailModel(session: session, cardId: cardId))
    }

    var body: some View {
        List {
            if let message = model.message { MessageView(message: message) { model.dismissMessage() } }
            if !model.banner.isEmpty { ConflictBannerView(fields: model.banner) { path, value in Task { await model.resolve(path: path, value: value) } } }
            ForEach(model.sections, id: \.key) { (section: FieldbookKit.Section) in
                SwiftUI.Section(section.label) {
                    ForEach(section.fields, id: \.path) { FieldRowView(field: $0) }
                }
            }
            ForEach(model.card?.collections ?? [], id: \.key) { (collection: FieldbookKit.Collection) in
                SwiftUI.Section("\(collection.label)（\(collection.items.count)）") {
                    // The visit log newest first: the last visit is read first.
                    ForEach(collection.key == "visits" ? Array(collection.items.reversed()) : collection.items, id: \.id) { item in
                        VStack(alignment: .leading) {
                            ForEach(item.fields.filter { !$0.path.hasSuffix(".id") }, id: \.path) { FieldRowView(field: $0) }
                        }
                    }
                    if collection.key != "visits" {
                        NavigationLink("添加") {
                            EditorView(session: session, target: .newItem(cardId: model.cardId, collection: collection.key), title: collection.label)
                        }
                    }
                }
            }
        }
        .navigationTitle(model.card?.name ?? "客户")
        .toolbar {
            NavigationLink("拜访") { VisitView(session: session, cardId: model.cardId) }
            NavigationLink("编辑") { EditorView(session: session, target: .card(model.cardId), title: "编辑客户资料") }
            NavigationLink("档案") { HistoryView(session: session, cardId: model.cardId) }
        }
        .task { await model.load() }
    }
}

struct FieldRowView: View {
    let field: Field

    var body: some View {
        HStack(alignment: .top) {
            Text(field.label).foregroundStyle(.secondary).frame(width: 110, alignment: .leading)
            Text(field.display + (field.inConflict ? " ⚠" : "")).foregroundStyle(field.inConflict ? .red : .primary)
        }
    }
}

/// Each conflicted field's values, attributed, with a button to keep one.
struct ConflictBannerView: View {
    let fields: [ConflictField]
    let choose: (String, String) -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text("\(fields.count) 个字段有冲突：其他设备同时修改了这些内容，请选择要保留的值").font(.subheadline.bold())
            ForEach(fields, id: \.path) { field in
                Text(field.label).font(.subheadline)
                ForEach(field.choices, id: \.self) { choice in
                    HStack {
                        VStack(alignment: .leading) {
                            Text(choice.display + (choice.shown ? "（当前显示）" : ""))
                            Text("\(choice.rep ?? "未知") · 设备 \(String(choice.device.prefix(6))) · \(shown(choice.time))").font(.caption)
                        }
                        Spacer()
                        Button("保留") { choose(field.path, choice.value) }.buttonStyle(.bordered)
                    }
                }
            }
        }
        .padding(8)
        .background(Color.orange.opacity(0.15))
    }
}

struct EditorView: View {
    @StateObject private var model: EditorModel
    let title: String
    @Environment(\.dismiss) private var dismiss

    init(session: FieldbookSession, target: EditTarget, title: String) {
        _model = StateObject(wrappedValue: EditorModel(session: session, target: target))
        self.title = title
    }

    var body: some View {
        Form {
            if let message = model.message { Text(message.text).foregroundStyle(.red) }
            ForEach(model.sections) { group in
                SwiftUI.Section(group.label) {
                    ForEach(group.fields) { field in editor(for: field) }
                }
            }
        }
        .navigationTitle(title)
        .toolbar {
            Button("保存") { Task { if await model.save() != nil { dismiss() } } }
                .disabled(!model.hasChanges || model.saving)
        }
        .task { if model.fields.isEmpty { await model.load() } }
    }

    @ViewBuilder
    private func editor(for field: EditorField) -> some View {
        let binding = Binding(get: { field.draft }, set: { model.change(field.spec.path, to: $0) })
        VStack(alignment: .leading) {
            switch field.control {
            case .toggle:
                Toggle(field.spec.label, isOn: Binding(get: { field.draft == "true" }, set: { model.change(field.spec.path, to: $0 ? "true" : "false") }))
            case .picker:
                Picker(field.spec.label, selection: binding) {
                    Text("未填").tag("")
                    ForEach(field.options, id: \.code) { Text($0.label).tag($0.code) }
                }
            case .multiline:
                TextField(field.spec.label, text: binding, axis: .vertical).lineLimit(3...8)
            default:
                TextField(field.spec.label, text: binding, prompt: Text(field.placeholder))
                    .keyboardType(keyboard(field.control))
            }
            if let error = field.error { Text(error).font(.caption).foregroundStyle(.red) }
        }
    }

    private func keyboard(_ control: Control) -> UIKeyboardType {
        switch control {
        case .integer: return .numberPad
        case .decimal: return .decimalPad
        case .signedDecimal: return .numbersAndPunctuation
        case .date, .dateTime: return .numbersAndPunctuation
        default: return .default
        }
    }
}

struct VisitView: View {
    @StateObject private var model: VisitModel
    @Environment(\.dismiss) private var dismiss

    init(session: FieldbookSession, cardId: String) {
        _model = StateObject(wrappedValue: VisitModel(session: session, cardId: cardId, location: CoreLocationSource()))
    }

    var body: some View {
        Form {
            if let message = model.message { MessageView(message: message) { model.dismissMessage() } }
            Picker("方式", selection: $model.kind) {
                ForEach(ChoiceOptions.forPath("visits.*.kind"), id: \.code) { Text($0.label).tag($0.code) }
            }
            .pickerStyle(.segmented)
            TextField("地点", text: $model.place)
            TextField("洽谈内容", text: $model.summary, axis: .vertical).lineLimit(3...8)
            TextField("结果", text: $model.outcome)
            TextField("下一步", text: $model.nextStep)
            TextField("下次拜访（2026-12-08）", text: $model.nextVisit)
            HStack {
                Button("定位") { Task { await model.locate() } }
                Spacer()
                switch model.location {
                case .notAsked: Text("未定位")
                case .locating: ProgressView()
                case let .fixed(fix): Text(String(format: "%.5f, %.5f", fix.latitude, fix.longitude))
                case let .missing(text): Text(text).font(.caption)
                }
            }
        }
        .navigationTitle("记录拜访")
        .toolbar {
            Button("保存") { Task { if await model.save() != nil { dismiss() } } }
                .disabled(model.saving || model.summary.trimmingCharacters(in: .whitespaces).isEmpty)
        }
    }
}

struct HistoryView: View {
    @StateObject private var model: HistoryModel

    init(session: FieldbookSession, cardId: String) {
        _model = StateObject(wrappedValue: HistoryModel(session: session, cardId: cardId))
    }

    var body: some View {
        List(model.rows) { row in
            // A single card-level field opens its own history.
            let field = row.paths.count == 1 && row.paths[0].filter { $0 == "." }.count <= 1 ? row.paths[0] : nil
            Button {
                if let field { Task { await model.openField(field) } }
            } label: {
                VStack(alignment: .leading) {
                    Text("\(row.who) · \(shown(row.time)) · 设备 \(String(row.device.prefix(6)))").font(.caption)
                    Text(row.labels.count > 4 ? row.labels.prefix(4).joined(separator: "、") + " 等 \(row.labels.count) 项" : row.labels.joined(separator: "、"))
                }
            }
            .disabled(field == nil)
        }
        .navigationTitle("客户档案")
        .task { await model.load() }
        .sheet(isPresented: Binding(get: { model.fieldPath != nil }, set: { if !$0 { model.closeField() } })) {
            NavigationStack {
                List(model.fieldRows, id: \.self) { Text("\(shown($0.time)) \($0.who)：\($0.value)") }
                    .navigationTitle("\(model.fieldLabel ?? "") 的变化")
            }
        }
    }
}

struct EnrolView: View {
    @StateObject private var model: EnrolModel

    init(session: FieldbookSession) {
        _model = StateObject(wrappedValue: EnrolModel(session: session))
    }

    var body: some View {
        Form {
            Text("请输入主管提供的服务器地址和一次性登记码。")
            TextField("服务器地址", text: $model.serverUrl).textInputAutocapitalization(.never).keyboardType(.URL)
            TextField("登记码", text: $model.token).textInputAutocapitalization(.never)
            if let message = model.message { Text(message.text).foregroundStyle(.red) }
            Button(model.enrolling ? "正在登记…" : "登记") { Task { await model.enrol() } }
                .disabled(model.enrolling || model.serverUrl.isEmpty || model.token.isEmpty)
        }
        .navigationTitle("登记本机")
    }
}
