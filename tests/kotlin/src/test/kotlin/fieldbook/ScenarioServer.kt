package fieldbook

import java.io.BufferedReader
import java.io.BufferedWriter
import java.nio.file.Files
import java.nio.file.Path

/**
 * A real fieldbook-server on a loopback port, seeded with the demo company
 * (张伟/east, 李娜/north, 陈杰/south, manager 王经理), in a process of its own
 * (tests/src/bin/fieldbook-scenario-server.rs). Commands go over its stdin.
 */
class ScenarioServer(cardsPerTerritory: Int = 20) : AutoCloseable {
    val dir: Path = Files.createTempDirectory("fieldbook-server")
    private val process: Process
    private val input: BufferedWriter
    private val output: BufferedReader
    val url: String

    init {
        val binary = System.getProperty("fieldbook.scenarioServer")
            ?: error("fieldbook.scenarioServer is not set (run through scripts/test-kotlin)")
        process = ProcessBuilder(binary, dir.toString(), cardsPerTerritory.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        input = process.outputStream.bufferedWriter()
        output = process.inputStream.bufferedReader()
        url = field(output.readLine() ?: error("the scenario server did not start"), "url")
    }

    private fun command(line: String, key: String): String {
        input.write(line + "\n")
        input.flush()
        val answer = output.readLine() ?: error("the scenario server stopped")
        return field(answer, key)
    }

    /** A one-time enrolment token for a new device of [person]. */
    fun token(person: String, role: String = "rep", deviceName: String = "演示手机"): String =
        command("token $person $role $deviceName", "token")

    /** Hands [territory] to [rep]; returns the cards that moved. */
    fun assign(territory: String, rep: String): Int = command("assign $territory $rep", "moved").toInt()

    /** The manager changes one company setting; returns the new revision. */
    fun setting(path: String, value: Long): Int = command("setting $path $value", "revision").toInt()

    /** The id of a card of [territory]. */
    fun cardIn(territory: String): String = command("card-in $territory", "card_id")

    override fun close() {
        input.close()
        process.waitFor()
    }

    companion object {
        /** The value of a string or number [key] in a one-line JSON object. */
        fun field(json: String, key: String): String {
            val match = Regex("\"$key\":(\"([^\"]*)\"|(-?[0-9]+))").find(json)
                ?: error("no $key in $json")
            return match.groupValues[2].ifEmpty { match.groupValues[3] }
        }
    }
}
