package fieldbook.demo.android

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.location.LocationManager
import androidx.core.content.ContextCompat
import androidx.core.location.LocationManagerCompat
import android.os.CancellationSignal
import fieldbook.demo.GeoFix
import fieldbook.demo.LocationResult
import fieldbook.demo.LocationSource
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlin.coroutines.resume

/**
 * One position fix from the platform's `LocationManager`.
 *
 * Not Google's FusedLocationProvider: most phones sold in mainland China ship without
 * Google Play services, where the reps of this domain work. `LocationManagerCompat`
 * gives one current fix on every API level from 24.
 */
class AndroidLocationSource(private val context: Context) : LocationSource {
    override suspend fun current(): LocationResult {
        val granted = listOf(Manifest.permission.ACCESS_FINE_LOCATION, Manifest.permission.ACCESS_COARSE_LOCATION)
            .any { ContextCompat.checkSelfPermission(context, it) == PackageManager.PERMISSION_GRANTED }
        if (!granted) return LocationResult.Denied
        val manager = context.getSystemService(LocationManager::class.java) ?: return LocationResult.Unavailable
        // GPS outdoors; the network provider (cell/Wi-Fi) when GPS is off or indoors.
        val provider = listOf(LocationManager.GPS_PROVIDER, LocationManager.NETWORK_PROVIDER)
            .firstOrNull { manager.isProviderEnabled(it) } ?: return LocationResult.Unavailable
        return suspendCancellableCoroutine { continuation ->
            val signal = CancellationSignal()
            continuation.invokeOnCancellation { signal.cancel() }
            try {
                LocationManagerCompat.getCurrentLocation(manager, provider, signal, ContextCompat.getMainExecutor(context)) { location ->
                    continuation.resume(
                        location?.let { LocationResult.Fixed(GeoFix(it.latitude, it.longitude, if (it.hasAccuracy()) it.accuracy else null)) }
                            ?: LocationResult.Unavailable,
                    )
                }
            } catch (e: SecurityException) {
                // The permission was revoked between the check and the request.
                continuation.resume(LocationResult.Denied)
            }
        }
    }
}
