package fieldbook.demo

/** Where the phone is, as well as it knows. */
data class GeoFix(val latitude: Double, val longitude: Double, val accuracyMeters: Float? = null)

/** The outcome of asking for the phone's position. */
sealed interface LocationResult {
    data class Fixed(val fix: GeoFix) : LocationResult

    /** The rep has not granted location access. */
    data object Denied : LocationResult

    /** No fix in time (indoors, location off). */
    data object Unavailable : LocationResult
}

/**
 * The device's position, implemented by the app (Android: `LocationManager`; iOS:
 * Core Location). The view models only need one fix when a visit is logged.
 */
fun interface LocationSource {
    suspend fun current(): LocationResult
}
