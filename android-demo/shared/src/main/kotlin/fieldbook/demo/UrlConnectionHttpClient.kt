package fieldbook.demo

import fieldbook.HttpClient
import fieldbook.HttpRequest
import fieldbook.HttpResponse
import fieldbook.TransportException
import java.io.IOException
import java.net.HttpURLConnection
import java.net.URI

/**
 * The sync's HTTP through the platform's own stack (`HttpURLConnection`, OkHttp inside
 * on Android), plugged in with `Fieldbook.setHttpClient`.
 *
 * On Android this is not optional polish: the library's built-in client is reqwest
 * 0.13 with rustls, and Cargo.lock shows that build verifying certificates through
 * `rustls-platform-verifier`, which on Android needs JNI initialisation and its
 * companion Kotlin library before any HTTPS request. The platform stack also follows the
 * phone's proxy and the company CA a device administrator installs. No dependency
 * beyond the JDK, so the JVM tests run this very class against the live server.
 */
class UrlConnectionHttpClient(
    private val connectTimeoutMillis: Int = 15_000,
    private val readTimeoutMillis: Int = 120_000,
) : HttpClient {
    // Called on the sync's own thread, never the UI thread: blocking is expected.
    override fun post(request: HttpRequest): HttpResponse {
        val connection = try {
            URI.create(request.url).toURL().openConnection() as HttpURLConnection
        } catch (e: IllegalArgumentException) {
            throw TransportException.Failed("bad url")
        }
        try {
            connection.requestMethod = "POST"
            connection.doOutput = true
            connection.connectTimeout = connectTimeoutMillis
            connection.readTimeout = readTimeoutMillis
            connection.setRequestProperty("Content-Type", request.contentType)
            request.bearerToken?.let { connection.setRequestProperty("Authorization", "Bearer $it") }
            // No fixed-length streaming mode: with it the JDK's connection drops the body
            // of a 401 (it "cannot retry" authentication), and that body carries the
            // server's `auth.*` code, which tells the rep to enrol again. The JVM test of
            // this class caught it.
            connection.outputStream.use { it.write(request.body) }
            val status = connection.responseCode
            // A refusal (4xx/5xx) is an answer too: its body carries the server's code.
            val body = (if (status >= 400) connection.errorStream else connection.inputStream)?.use { it.readBytes() } ?: ByteArray(0)
            return HttpResponse(status.toUShort(), body)
        } catch (e: IOException) {
            // No answer at all: the library reports `sync.network` and keeps the edits.
            throw TransportException.Failed(e.javaClass.simpleName)
        } finally {
            connection.disconnect()
        }
    }
}
