package fieldbook.demo

import fieldbook.FieldEdit
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

/** The app's transport (what the Android app plugs in) against the live server. */
class UrlConnectionHttpClientTest {
    private lateinit var phones: DemoPhones

    @BeforeEach
    fun start() {
        phones = DemoPhones()
    }

    @AfterEach
    fun stop() = phones.close()

    @Test
    fun `enrolment, pull, push and a refusal all travel through the platform stack`() = runBlocking {
        val book = phones.open("urlconnection")
        book.setHttpClient(UrlConnectionHttpClient())
        val session = FieldbookSession(book)
        val enrol = EnrolViewModel(session)
        enrol.update { it.copy(serverUrl = phones.server.url, token = "used-or-unknown") }
        enrol.enrol()
        assertEquals(MessageKind.ENROL, enrol.state.value.message!!.kind, "the server's refusal (an HTTP error status) arrives as its code")

        enrol.update { it.copy(token = phones.server.token("lina", deviceName = "HttpURLConnection")) }
        assertEquals("lina", enrol.enrol()!!.repId)
        assertEquals(20u, session.sync(null).cardsNew)
        session.write { createCard(listOf(FieldEdit("basic.name", "青岛市南海鲜批发"), FieldEdit("territory", "north"))) }
        assertEquals(0uL, session.sync(null).pendingCards, "pushed")

        book.setHttpClient(UrlConnectionHttpClient())
        val outside = session.write { createCard(listOf(FieldEdit("basic.name", "广州天河电子"), FieldEdit("territory", "south"))) }
        assertEquals("access.denied", session.sync(null).refused.single { it.cardId == outside }.code)

        // Nothing listening: no answer at all is the network kind, retried later.
        val offline = phones.open("nowhere")
        offline.setHttpClient(UrlConnectionHttpClient(connectTimeoutMillis = 2_000))
        val nowhere = EnrolViewModel(FieldbookSession(offline))
        nowhere.update { it.copy(serverUrl = "http://127.0.0.1:9", token = "x") }
        nowhere.enrol()
        assertEquals(MessageKind.NETWORK, nowhere.state.value.message!!.kind)
    }
}
