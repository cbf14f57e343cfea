import CoreLocation
import FieldbookKit

/// One fix from Core Location when a visit is logged (`requestLocation`: a single fix,
/// no continuous tracking of the rep).
final class CoreLocationSource: NSObject, LocationSource, CLLocationManagerDelegate, @unchecked Sendable {
    private let manager = CLLocationManager()
    private var waiting: CheckedContinuation<LocationResult, Never>?

    override init() {
        super.init()
        manager.delegate = self
        manager.desiredAccuracy = kCLLocationAccuracyHundredMeters
    }

    func current() async -> LocationResult {
        await withCheckedContinuation { continuation in
            // CLLocationManager is used from the main thread only.
            DispatchQueue.main.async {
                self.finish(.unavailable) // a request still waiting is superseded
                switch self.manager.authorizationStatus {
                case .denied, .restricted:
                    continuation.resume(returning: .denied)
                case .notDetermined:
                    self.waiting = continuation
                    self.manager.requestWhenInUseAuthorization()
                default:
                    self.waiting = continuation
                    self.manager.requestLocation()
                }
            }
        }
    }

    func locationManagerDidChangeAuthorization(_ manager: CLLocationManager) {
        guard waiting != nil else { return }
        switch manager.authorizationStatus {
        case .authorizedWhenInUse, .authorizedAlways: manager.requestLocation()
        case .denied, .restricted: finish(.denied)
        default: break
        }
    }

    func locationManager(_ manager: CLLocationManager, didUpdateLocations locations: [CLLocation]) {
        guard let l = locations.last else { return finish(.unavailable) }
        finish(.fixed(GeoFix(latitude: l.coordinate.latitude, longitude: l.coordinate.longitude, accuracyMeters: l.horizontalAccuracy)))
    }

    func locationManager(_ manager: CLLocationManager, didFailWithError error: Error) {
        finish(.unavailable)
    }

    private func finish(_ result: LocationResult) {
        waiting?.resume(returning: result)
        waiting = nil
    }
}
