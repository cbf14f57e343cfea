import Foundation

public struct GeoFix: Equatable, Sendable {
    public let latitude: Double, longitude: Double, accuracyMeters: Double?
    public init(latitude: Double, longitude: Double, accuracyMeters: Double?) {
        self.latitude = latitude; self.longitude = longitude; self.accuracyMeters = accuracyMeters
    }
}

public enum LocationResult: Equatable, Sendable { case fixed(GeoFix), denied, unavailable }

/// The phone's position, implemented by the app (Core Location).
public protocol LocationSource: Sendable {
    func current() async -> LocationResult
}

public enum VisitLocation: Equatable, Sendable { case notAsked, locating, fixed(GeoFix), missing(String) }

/// 拜访记录 right after the visit, often offline; a missing position never blocks it.
@MainActor
public final class VisitModel: ObservableObject {
    @Published public var kind = "visit"
    @Published public var place = ""
    @Published public var summary = ""
    @Published public var outcome = ""
    @Published public var nextStep = ""
    @Published public var nextVisit = ""
    @Published public private(set) var location: VisitLocation = .notAsked
    @Published public private(set) var saving = false
    @Published public private(set) var message: UIMessage?
    public let cardId: String
    private let session: FieldbookSession
    private let source: LocationSource

    public init(session: FieldbookSession, cardId: String, location: LocationSource) {
        self.session = session
        self.cardId = cardId
        self.source = location
    }

    public func locate() async {
        location = .locating
        switch await source.current() {
        case let .fixed(fix): location = .fixed(fix)
        case .denied: location = .missing("未授予定位权限，拜访将不带位置保存")
        case .unavailable: location = .missing("暂时无法定位，拜访将不带位置保存")
        }
    }

    public func save() async -> String? {
        saving = true
        defer { saving = false }
        var edits = [FieldEdit(path: "kind", value: kind)]
        for (key, value) in [("place", place), ("summary", summary), ("outcome", outcome), ("next_step", nextStep), ("next_visit", nextVisit)]
        where !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            edits.append(FieldEdit(path: key, value: value.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        if case let .fixed(fix) = location {
            // POSIX formatting: a comma-decimal locale must not reach the library.
            edits.append(FieldEdit(path: "lat", value: String(format: "%.6f", locale: Locale(identifier: "en_US_POSIX"), fix.latitude)))
            edits.append(FieldEdit(path: "lon", value: String(format: "%.6f", locale: Locale(identifier: "en_US_POSIX"), fix.longitude)))
        }
        let id = cardId
        let fields = edits
        do {
            // `at: nil`: now, by the device clock corrected by the server's.
            let visit = try await session.write { try $0.logVisit(cardId: id, fields: fields, at: nil) }
            place = ""; summary = ""; outcome = ""; nextStep = ""; nextVisit = ""; location = .notAsked
            message = nil
            return visit
        } catch {
            message = uiMessage(for: error, schema: session.schema)
            return nil
        }
    }

    public func dismissMessage() { message = nil }
}
